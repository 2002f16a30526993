"""The embedded default config, as TOML: what `mockauth serve` runs without a file."""

DEFAULT_CONFIG_TOML = """\
# mockauth's embedded default: one API, the Management API, one M2M app granted both,
# and user login: one organisation, one user, a web app, a single-page app and a device app.
[lifetimes]
access_token = 86400

[[apis]]
name = "Calendar API"
audience = "https://api.example.com"
scopes = ["read:calendar", "update:event", "delete:event"]

# Kinde's Management API ({issuer}/api/v1/...): it defines every scope of the operations
# mockauth serves, whatever this list says.
[[apis]]
name = "Kinde Management API"
audience = "{issuer}/api"
scopes = []

[[apps]]
name = "Backend"
type = "m2m"
client_id = "db7910a2cb5ef186a47f64aa64eb7783"
client_secret = "xQ4B4wc6gRUY6ziaDN1ti8EZKmMahPycjfeyPhInaflKHGTel1"

[apps.apis]
"https://api.example.com" = ["read:calendar", "update:event", "delete:event"]
"{issuer}/api" = "*"  # every scope, as an app authorised for the Management API with all

[[apps]]
name = "Web"
type = "regular"
client_id = "4c3f8a5e0b7d4e21a9f6c2d8e1b05f37"
client_secret = "Rk7vW2mQ9pL4xT8nZ3cJ6hY1sB5dF0gKaE2uN7iO4rVt9XqM3w"
redirect_uris = ["http://localhost:3000/api/auth/kinde_callback",
                 "http://localhost:3000/callback", "http://localhost:8000/callback"]
logout_uris = ["http://localhost:3000", "http://localhost:8000"]

[apps.apis]  # user tokens may name this audience; users' permissions say what they may do
"https://api.example.com" = []

[[apps]]
name = "SPA"
type = "spa"
client_id = "9e1d2b7c5a3f4e6d8c0b1a2f3e4d5c6b"
redirect_uris = ["http://localhost:3000", "http://localhost:5173"]
logout_uris = ["http://localhost:3000", "http://localhost:5173"]

[apps.apis]
"https://api.example.com" = []

[[apps]]
name = "TV"
type = "device"
client_id = "6d2f0a9b8c7e4d3f1a5b2c9e8d7f6a4b"

[apps.apis]
"https://api.example.com" = []

[[orgs]]
code = "org_e5f28e1676d"
name = "Example Org"

[[users]]
id = "kp_0f6c1b8e2d7a4c3b9e5f1a2d8c7b6e4a"
email = "jane@example.com"
given_name = "Jane"
family_name = "Doe"
orgs = ["org_e5f28e1676d"]
permissions = ["read:calendar", "update:event"]
"""
