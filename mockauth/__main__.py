"""python -m mockauth"""

from mockauth.cli import main

main()
