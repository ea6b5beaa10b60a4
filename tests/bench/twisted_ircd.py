"""tests/bench/twisted_ircd.py - the Twisted words IRC server that
tests/bench/irc.sh measures loomd against: twisted.words.service's
IRCFactory on 127.0.0.1:PORT with an in-memory realm that makes users and
groups (channels) on request, and a checker that lets every PASS in (a
benchmark has no accounts).  Runs on the default reactor (epoll on Linux)
until SIGTERM.

    /usr/bin/python3 tests/bench/twisted_ircd.py PORT
"""

import sys

from twisted.cred import checkers, credentials, portal
from twisted.internet import defer, reactor
from twisted.words import service
from zope.interface import implementer


@implementer(checkers.ICredentialsChecker)
class AnyPassword:
    """Every username/password pair is accepted as that username."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def requestAvatarId(self, creds):
        return defer.succeed(creds.username)


def main():
    port = int(sys.argv[1])
    realm = service.InMemoryWordsRealm("irc.bench.test")
    realm.createGroupOnRequest = True
    realm.createUserOnRequest = True
    p = portal.Portal(realm, [AnyPassword()])
    reactor.listenTCP(port, service.IRCFactory(realm, p), interface="127.0.0.1", backlog=1024)
    print("twisted words listening on 127.0.0.1:%d (%s)" % (port, type(reactor).__name__), flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
