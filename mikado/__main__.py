from mikado.cli import main

main()
