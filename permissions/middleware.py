from permissions.policy.snapshot import policy_pinned


class PolicyPinMiddleware:
    """Each request reads the policy version once (``permissions.policy.snapshot.policy_pinned``):
    one consistent policy from authentication to the last check, one cache round trip."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with policy_pinned():
            return self.get_response(request)
