"""`python -m porteiro_directory`: run the directory service."""

from porteiro_common.server import run_service
from porteiro_directory.app import DirectoryApp
from porteiro_directory.settings import DirectorySettings


def main() -> None:
    run_service("directory", DirectorySettings, DirectoryApp)


if __name__ == "__main__":
    main()
