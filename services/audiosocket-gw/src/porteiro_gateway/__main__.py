"""`python -m porteiro_gateway`: run the gateway service."""

from porteiro_common.server import run_service
from porteiro_gateway.app import GatewayApp
from porteiro_gateway.settings import GatewaySettings


def main() -> None:
    run_service("audiosocket-gw", GatewaySettings, GatewayApp)


if __name__ == "__main__":
    main()
