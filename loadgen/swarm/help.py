"""``python -m loadgen.swarm.help``: Locust's --help with the speedbench options.

Locust 2.47 answers ``locust -f loadgen/speed.py --help`` before it loads the locustfile, so its
help never lists a locustfile's own options; this prints Locust's parser with them added.
"""

from locust.argument_parser import get_parser  # first: Locust patches ssl on import

from loadgen.swarm.options import add_arguments


def main() -> None:
    parser = get_parser()
    add_arguments(parser)
    parser.print_help()


if __name__ == "__main__":
    main()
