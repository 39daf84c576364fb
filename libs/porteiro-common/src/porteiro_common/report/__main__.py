import sys

from porteiro_common.report.cli import main

sys.exit(main())
