Package: curl
Status: install ok installed
Architecture: amd64
Version: 99.0-ignored
