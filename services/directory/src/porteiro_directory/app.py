"""Wires the directory service into the shared runtime."""

from porteiro_common.server import ServiceApp

from porteiro_directory.settings import DirectorySettings


class DirectoryApp(ServiceApp[DirectorySettings]):
    service_names = ("porteiro.directory.v1.DirectoryService",)
