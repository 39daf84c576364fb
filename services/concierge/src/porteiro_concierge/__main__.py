"""`python -m porteiro_concierge`: run the concierge service."""

from porteiro_common.server import run_service
from porteiro_concierge.app import ConciergeApp
from porteiro_concierge.settings import ConciergeSettings


def main() -> None:
    run_service("concierge", ConciergeSettings, ConciergeApp)


if __name__ == "__main__":
    main()
