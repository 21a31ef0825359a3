from nnvsml.cli import main

main()
