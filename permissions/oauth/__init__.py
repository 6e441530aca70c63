"""OMNI2 as an OAuth 2.1 authorization server for MCP clients (issue 15; docs/MCP_ENDPOINT.md).

django-oauth-toolkit (DOT) does the protocol and the token storage; this package holds what
OMNI2 decides on top of it: the URLs it publishes (``resources``), the metadata documents
(``metadata``), which clients may register (``registration``), S256-only PKCE (``server``), the
login, consent and registration views (``views``), the token check and revocation (``tokens``)
and DOT's admin pages (``admin``, wired through DOT's ``*_ADMIN_CLASS`` settings).
"""
