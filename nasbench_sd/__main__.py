"""``python -m nasbench_sd`` is the ``nasbench-sd`` command."""

from nasbench_sd.cli import main

if __name__ == "__main__":
    main()
