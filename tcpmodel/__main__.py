import sys

from tcpmodel.cli.main import main

sys.exit(main())
