"""`python -m porteiro_dialer`: run the dialer service."""

import sys

from porteiro_common.server import run_service
from porteiro_dialer.app import DialerApp
from porteiro_dialer.settings import DialerSettings


def create_app(settings: DialerSettings) -> DialerApp:
    try:
        return DialerApp(settings)
    except ValueError as error:  # a malformed URL; the message names the variable, not its value
        print(f"invalid configuration: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def main() -> None:
    run_service("dialer", DialerSettings, create_app)


if __name__ == "__main__":
    main()
