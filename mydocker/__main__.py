import sys

from mydocker.cli.main import main

sys.exit(main())
