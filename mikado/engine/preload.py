"""What the fork server that starts action processes (:mod:`mikado.engine.process`) loads
before it forks any: the action process's code, with httpx and the service clients, and the
default trust store. Each card's process then starts with them in place instead of paying
again for them (about 20 ms for the trust store, 10 ms for httpx's first client)."""

from mikado.config import TlsSettings
from mikado.engine import child  # noqa: F401 - imported to be inherited
from mikado.engine.http import make_client

# The first client loads the trust store (cached per process) and the modules httpx imports
# only when a client is built.
make_client(TlsSettings()).close()
