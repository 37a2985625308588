import sys

from tcpmodel.cli import main

sys.exit(main())
