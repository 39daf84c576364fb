"""`python -m porteiro_dialer`: run the dialer service."""

from porteiro_common.server import run_service

from porteiro_dialer.app import DialerApp
from porteiro_dialer.settings import DialerSettings


def main() -> None:
    run_service("dialer", DialerSettings, DialerApp)


if __name__ == "__main__":
    main()
