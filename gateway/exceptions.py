"""The GatewayError tree: one class per error code, each with its HTTP status and whether it is retryable."""


class GatewayError(Exception):
    status = 500
    code = "internal"
    retryable = False
    default_message = "Internal gateway error."

    def __init__(self, message: str | None = None, *, param: str | None = None,
                 retry_after: float | None = None, upstream_status: int | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.param = param
        self.retry_after = retry_after
        self.upstream_status = upstream_status

    @property
    def client_message(self) -> str:
        """What the client reads: a client error's message names its field even where the raiser's sentence did
        not (param `input[3].content` -> "input[3].content: ...")."""
        if self.param and self.status < 500 and self.param not in self.message:
            return f"{self.param}: {self.message}"
        return self.message


def _define(name: str, status: int, code: str, message: str, retryable: bool = False,
            base: type = GatewayError) -> type:
    return type(name, (base,), {
        "status": status, "code": code, "default_message": message, "retryable": retryable,
        "__doc__": f"{code}: HTTP {status}.",
    })


AuthMissing = _define("AuthMissing", 401, "auth_missing", "Missing bearer token in the Authorization header.")
AuthInvalid = _define("AuthInvalid", 401, "auth_invalid", "Invalid or revoked API key.")
InvalidRequest = _define("InvalidRequest", 400, "invalid_request", "Invalid request.")
RateLimited = _define("RateLimited", 429, "rate_limited", "Rate limit exceeded.", retryable=True)
QuotaExceeded = _define("QuotaExceeded", 429, "quota_exceeded", "Budget or quota exceeded for this key.")
Timeout = _define("Timeout", 504, "timeout", "The provider did not answer in time.", retryable=True)
ProviderAuth = _define("ProviderAuth", 502, "provider_auth", "The provider rejected the gateway's credentials.")
ProviderUnavailable = _define("ProviderUnavailable", 502, "provider_unavailable",
                              "The provider is unavailable.", retryable=True)
NoProviderKey = _define("NoProviderKey", 400, "no_provider_key", "No API key is configured for this provider.")
RouteNotFound = _define("RouteNotFound", 400, "route_not_found", "No route is configured for this model.")
ModelNotSupported = _define("ModelNotSupported", 400, "model_not_supported", "This model is not supported.")
NotImplementedYet = _define("NotImplementedYet", 501, "not_implemented", "Not implemented.")
Internal = _define("Internal", 500, "internal", "Internal gateway error.")
# An adapter failed to build a target's request: the gateway's own fault, not the provider's (no retry, no
# cooldown); the next target, whose adapter may be another, is tried.
RequestUntranslatable = _define("RequestUntranslatable", 500, "internal",
                                "The gateway could not translate this request for the provider.", base=Internal)
ModelNotAllowed = _define("ModelNotAllowed", 403, "model_not_allowed", "This key may not use this model.")
PermissionDenied = _define("PermissionDenied", 403, "permission_denied", "This key may not do that.")
EndpointMismatch = _define("EndpointMismatch", 400, "endpoint_mismatch", "This model is not served on this endpoint.")
NotFound = _define("NotFound", 404, "not_found", "Not found.")
MethodNotAllowed = _define("MethodNotAllowed", 405, "method_not_allowed", "Method not allowed.")
PayloadTooLarge = _define("PayloadTooLarge", 413, "payload_too_large", "Request body too large.")
RouteDisabled = _define("RouteDisabled", 404, "route_disabled", "This route is paused.")
ModelRetired = _define("ModelRetired", 410, "model_retired", "This model is retired.")
Unavailable = _define("Unavailable", 503, "unavailable", "The gateway is not ready.")
ShuttingDown = _define("ShuttingDown", 503, "shutting_down",
                       "The gateway is shutting down; retry the request.", retryable=False)
# A dependency of the request (the database, a stored provider key) is not usable now: 503, never a 500. A kind of
# Unavailable (what catches the one catches the other); /readyz keeps `unavailable` for "this worker is not ready".
ServiceUnavailable = _define("ServiceUnavailable", 503, "service_unavailable",
                             "The gateway's database is not reachable; retry the request.", base=Unavailable)
ProviderKeyUnreadable = _define("ProviderKeyUnreadable", 503, "service_unavailable",
                                "The provider's stored API key cannot be decrypted.", base=ServiceUnavailable)
