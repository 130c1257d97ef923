from tfy_live.entry import main

main()
