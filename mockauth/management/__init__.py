"""Kinde's Management API (``/api/v1/...``, an M2M token for ``<issuer>/api``) and Account
API (``/account_api/v1/...``, a signed-in user's token), served over the tenant store: what
they write, every worker and every token issued afterwards sees."""
