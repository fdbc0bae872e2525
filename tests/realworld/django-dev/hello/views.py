import idna


def main():
    return idna.encode("example.com")
