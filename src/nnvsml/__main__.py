from nnvsml.console import main

main()
