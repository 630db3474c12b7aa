"""Creates a blob container on an Azure endpoint (Azurite in the tests), with the
Azure SDK: object_store, which Tarn uses, has no call to create containers.

  azure_container.py CONNECTION_STRING CONTAINER
"""

import sys

from azure.storage.blob import BlobServiceClient


def main():
    connection_string, container = sys.argv[1:]
    BlobServiceClient.from_connection_string(connection_string).create_container(container)


if __name__ == "__main__":
    main()
