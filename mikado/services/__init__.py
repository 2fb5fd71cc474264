"""Typed clients for the services the zot-hardening actions talk to.

Each client takes the engine's shared ``httpx.Client`` (timeouts, retries and trust are the
engine's business), a base URL and an already-resolved token, and raises
:class:`mikado.errors.ServiceError` carrying the service's own message, the request and the
status. No client ever puts a token or secret into an exception or a log line.
"""
