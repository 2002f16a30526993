"""HTTP endpoints: Kinde's OAuth and well-known paths, and the admin API."""
