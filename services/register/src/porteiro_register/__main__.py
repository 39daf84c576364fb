"""`python -m porteiro_register`: run the register service (`porteiro-register` has the other commands)."""

import sys

from porteiro_common.server import run_service
from porteiro_register.app import RegisterApp
from porteiro_register.settings import RegisterSettings


def create_app(settings: RegisterSettings) -> RegisterApp:
    try:
        return RegisterApp(settings)
    except ValueError as error:  # a malformed URL or retention; the message names the variable
        print(f"invalid configuration: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def serve() -> None:
    run_service("register", RegisterSettings, create_app)


if __name__ == "__main__":
    serve()
