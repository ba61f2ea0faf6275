from beluga_workflow.cli.app import main

main()
