from tfy_live.cli import main

main()
