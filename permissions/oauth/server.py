"""The oauthlib server DOT runs: PKCE with S256 only.

oauthlib accepts "plain", and treats a challenge with no method as "plain" (RFC 7636 §4.3).
OAuth 2.1 and the MCP authorization spec ask for S256, so both are refused at the authorization
request, before the user is asked anything (DOT's own RFC 9700 gate only refuses "plain" once
the user has consented).
"""

from oauthlib.oauth2 import Server as OAuthLibServer
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256


class S256OnlyServer(OAuthLibServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The authorization code grant checks the method against this mapping at the
        # authorization request and again at the token request.
        self.auth_grant._code_challenge_methods = {"S256": code_challenge_method_s256}
