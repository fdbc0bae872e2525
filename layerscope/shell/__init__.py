"""Shell words: the lexer, simple commands split out of RUN text, and the package managers'
command table (which command installs, which cleans, which flags disable caches)."""
