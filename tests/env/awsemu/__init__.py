"""awsemu: moto server plus our Aurora global-database extension, for tests.

    from awsemu import Emulator
    emu = Emulator(port=0, delays=awsemu.FAST_DELAYS).start()
    boto3.client("rds", endpoint_url=emu.url, region_name="us-west-2", ...)

or, as a process: python -m awsemu --port 0 --url-file /tmp/url (see
docs/awsemu.md).  Everything but the RDS global-database behaviour is moto's.
"""

from .rds_ext import DEFAULT_DELAYS, EXT, FAST_DELAYS  # noqa: F401
from .server import Emulator  # noqa: F401
