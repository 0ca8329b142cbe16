"""Running compiled workflows: the task contract, task dispatch to the workers, and the ASL interpreter."""
