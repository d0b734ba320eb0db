from vidllm.cli import main

main()
