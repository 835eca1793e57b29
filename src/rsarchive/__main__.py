from rsarchive.cli.main import main

main()
