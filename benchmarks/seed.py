"""Seeds a Gatehouse database for benchmarks/run.sh, with the server stopped.

    seed.py DB USERS [SESSIONS TOKENS_FILE]

Adds USERS users `cbench0000000000000000001`... in all, over runs (one SQL statement, so a
million take seconds, not the hours their password hashes would), each with the password hash of
bench@example.test and a createdAt one second apart (user i is i seconds old, so the list's
order is the seeding order). With SESSIONS, also gives each of the first SESSIONS seeded users a
session and writes their tokens, one a line, to TOKENS_FILE: what signing each in would give,
without hashing a thousand passwords.
"""
import hashlib
import secrets
import sqlite3
import sys

db_path, users = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(db_path)
db.execute("PRAGMA journal_mode = WAL")
have = db.execute("SELECT COUNT(*) FROM users WHERE id LIKE 'cbench%'").fetchone()[0]
first, last = have + 1, users
if last >= first:
    db.execute(
        """
        WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO users (id, email, passwordHash, firstName, lastName, role, portalType,
            emailVerified, twoFactorEnabled, suspended, settings, createdAt, updatedAt)
        SELECT printf('cbench%019d', i), printf('user%d@bench.test', i),
            (SELECT passwordHash FROM users WHERE email = 'bench@example.test'), 'User',
            printf('%d', i), 'user', 'free', 1, 0, 0, '{}',
            strftime('%Y-%m-%d %H:%M:%f', 'now', printf('-%d seconds', i)),
            strftime('%Y-%m-%d %H:%M:%f', 'now', printf('-%d seconds', i))
        FROM n
        """,
        (first, last),
    )
if len(sys.argv) > 3:
    sessions, tokens_file = int(sys.argv[3]), sys.argv[4]
    tokens = [secrets.token_urlsafe(32) for _ in range(sessions)]
    db.executemany(
        """
        INSERT INTO sessions (id, userId, tokenHash, createdAt, lastSeenAt, expiresAt, ip, userAgent)
        VALUES (printf('sbench%d', ?), printf('cbench%019d', ?), ?,
            strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'),
            strftime('%Y-%m-%d %H:%M:%f', 'now', '+7 days'), '127.0.0.1', 'benchmark')
        """,
        [(i + 1, i + 1, hashlib.sha256(t.encode()).hexdigest()) for i, t in enumerate(tokens)],
    )
    with open(tokens_file, "w") as f:
        f.write("\n".join(tokens) + "\n")
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
