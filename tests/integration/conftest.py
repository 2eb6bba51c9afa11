from tests.fixtures.gateway import *  # noqa: F403
from tests.fixtures.sshd import *  # noqa: F403
from tests.fixtures.telnetd import *  # noqa: F403
