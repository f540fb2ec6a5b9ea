import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseHost
import GatehousePostgres
import GatehouseStore
import Logging
import StandardModules

@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "The account service for game-server hosting panels.",
        subcommands: [
            Serve.self, CheckConfig.self, Migrate.self, Backup.self, Restore.self, CopyStore.self, UserCommand.self,
            MailCommand.self, HashRate.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// `--config PATH`, shared by every command.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The YAML config file (default: $GATEHOUSE_CONFIG, else etc/gatehouse.yaml if present, else built-in defaults)."
    )
    var config: String?

    var source: ConfigSource {
        let environment = ProcessInfo.processInfo.environment
        let registry = ModuleRegistry(StandardModules.all)
        if let path = config ?? environment["GATEHOUSE_CONFIG"] {
            return ConfigSource(filePath: path, environment: environment, registry: registry)
        }
        let fallback = "etc/gatehouse.yaml"
        return ConfigSource(
            filePath: FileManager.default.fileExists(atPath: fallback) ? fallback : nil,
            environment: environment,
            registry: registry
        )
    }

    /// Opens the store and builds the core (for commands that act on them), or exits 1.
    func boot(logLevel: String) async -> GatehouseServer {
        Terminal.bootstrapLogging(level: logLevel)
        do {
            return try await GatehouseServer.boot(source, logger: Logger(label: "gatehouse"))
        } catch {
            Terminal.fail("cannot start: \(error)")
        }
    }

    /// Loads and validates the config, or exits 1 naming every refused key.
    func load() async throws -> Runtime {
        do {
            return try await ConfigLoader.load(source)
        } catch {
            Terminal.fail("config refused (\(source.filePath ?? "built-in defaults")):\n\(error)")
        }
    }
}

enum Terminal {
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(1)
    }

    static func bootstrapLogging(level: String, format: CoreSettings.LogFormat = .text) {
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                return JSONLogHandler(label: label, level: level)
            case .text:
                var handler = StreamLogHandler.standardOutput(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP service (the default command).")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let runtime = try await options.load()
        Terminal.bootstrapLogging(level: runtime.settings.logLevel, format: runtime.settings.logFormat)
        let logger = Logger(label: "gatehouse")
        logger.notice("config: \(options.source.filePath ?? "built-in defaults")")
        // Held while serving a SQLite file: no second server, and no restore, on it meanwhile.
        // (On PostgreSQL, several processes serve one database.)
        let lock: DatabaseLock?
        let host: GatehouseServer
        do {
            lock =
                runtime.settings.database.url == nil
                ? try DatabaseLock(databaseAt: runtime.settings.database.path) : nil
            host = try await GatehouseServer.boot(options.source, runtime: runtime, logger: logger)
        } catch {
            Terminal.fail("cannot start: \(error)")
        }
        try await host.run()
        withExtendedLifetime(lock) {}
    }
}

/// `gatehouse hash-rate`: how many passwords a second this machine hashes with the configured
/// argon2 cost on the configured pool, nothing else (no HTTP, no database). What a sign-in or a
/// registration can reach at most; `benchmarks/run.sh` compares registrations/s with it.
struct HashRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-rate",
        abstract: "Measure password hashes per second with the configured argon2 cost and pool."
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "How long to hash, in seconds.") var seconds: Double = 10
    @Option(help: "Hashes asked for at once (default: twice the pool's threads).") var concurrency: Int?

    func run() async throws {
        let settings = try await options.load().settings.passwordHashing
        let hasher = PasswordHasher(parameters: settings.argon2, limits: settings.limits)
        let concurrency = max(1, concurrency ?? 2 * settings.limits.threads)
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let hashes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        _ = try await hasher.hash("Load!Test42")
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - start).components
        let took = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let a = settings.argon2
        print(
            String(
                format: "%d hashes in %.2f s: %.2f hashes/s (argon2id m=%d t=%d p=%d, %d threads, %d at once)",
                hashes,
                took,
                Double(hashes) / took,
                a.memoryKiB,
                a.iterations,
                a.parallelism,
                settings.limits.threads,
                concurrency
            )
        )
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the config and print what it loads."
    )
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let runtime = try await options.load()
        let settings = runtime.settings
        let modules = runtime.modules.map { type(of: $0).id }.joined(separator: ", ")
        print(
            "config OK (\(options.source.filePath ?? "built-in defaults")): modules \(modules); "
                + "listening on \(settings.server.host):\(settings.server.port); database \(settings.database.description)"
        )
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the database schema up to date.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let runtime = try await options.load()
        let database = runtime.settings.database
        do {
            // On PostgreSQL this also creates the server key (the first time) or checks it, under
            // the migration lock, as a start would.
            let (store, _) = try await GatehouseServer.openStore(runtime.settings, logger: Logger(label: "gatehouse"))
            let applied = try await store.appliedMigrations()
            try await store.close()
            print("database \(database.description): migrations applied: \(applied.joined(separator: ", "))")
        } catch {
            Terminal.fail("migration failed: \(error)")
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the live database and its key file (PATH and PATH.key), while it serves."
    )
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Where the copy goes (a new file); the key file goes to PATH.key.") var path: String

    func run() async throws {
        let database = try await options.load().settings.database
        if let url = database.url { Terminal.fail(Self.onPostgres(url, keyFile: database.keyFile)) }
        do {
            let users = try SQLiteStore.backup(databaseAt: database.path, key: database.keyFile, to: path)
            print("backup of \(database.path) written to \(path) (\(users) users, checked); key file: \(path).key")
        } catch {
            Terminal.fail("backup failed: \(error)")
        }
    }
}

extension Backup {
    /// What to do instead when the data is in PostgreSQL: its own tools make a consistent copy
    /// of a live database, and Gatehouse does not redo them.
    static func onPostgres(_ url: DatabaseURL, keyFile: String) -> String {
        """
        the data is in PostgreSQL (database.url), which gatehouse backup does not copy: use pg_dump, e.g.
          pg_dump --format=custom --file=gatehouse.dump '\(url.redacted)'
        (restore with pg_restore --clean --dbname=...), and keep a copy of the key file \(keyFile) with it: \
        without it the TOTP secrets and backup codes in the dump cannot be used.
        """
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup (PATH and PATH.key) in place of the database. Refused while a server runs on it."
    )
    @OptionGroup var options: ConfigOptions
    @Argument(help: "A file `gatehouse backup` wrote; its key file is PATH.key.") var path: String
    @Flag(help: "Replace a database that exists.") var force = false

    func run() async throws {
        let database = try await options.load().settings.database
        if let url = database.url { Terminal.fail(Backup.onPostgres(url, keyFile: database.keyFile)) }
        let key = path + ".key"
        guard FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: key) else {
            Terminal.fail("\(path) and \(key) must both exist")
        }
        let lock: DatabaseLock
        do {
            lock = try DatabaseLock(databaseAt: database.path)
        } catch {
            Terminal.fail("\(error): stop the server first")
        }
        if !force, FileManager.default.fileExists(atPath: database.path) {
            Terminal.fail("\(database.path) exists: restore with --force to replace it (it is kept as .pre-restore)")
        }
        do {
            let users = try SQLiteStore.restore(
                backupAt: path,
                to: database.path,
                keyFile: database.keyFile,
                holding: lock
            )
            print("restored \(path) to \(database.path) (\(users) users); key file: \(database.keyFile)")
        } catch {
            Terminal.fail("restore failed: \(error)")
        }
    }
}

struct CopyStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy-store",
        abstract: "Copy every table of a SQLite database into an empty PostgreSQL database, in one transaction.",
        discussion: """
            Stop the server on the SQLite file first (or copy from a `gatehouse backup`). The target is \
            migrated, must be empty, and takes the SQLite installation's key file as its server key: \
            give the new processes that key file (database.keyFile). TLS to the target follows the \
            config's database.tls and database.caFile.
            """
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "The source: sqlite:PATH.") var from: String
    @Option(
        help:
            "The target: postgres://user:password@host:port/database (default: the config's database.url, which keeps the password off the command line)."
    )
    var to: String?
    @Option(help: "The source's key file (default: PATH.key).") var keyFile: String?

    func run() async throws {
        guard from.hasPrefix("sqlite:"), case let path = String(from.dropFirst("sqlite:".count)), !path.isEmpty else {
            Terminal.fail("--from must be sqlite:PATH")
        }
        guard FileManager.default.fileExists(atPath: path) else { Terminal.fail("\(path) does not exist") }
        let database = try await options.load().settings.database
        let url: DatabaseURL
        if let to {
            do { url = try DatabaseURL(parsing: to) } catch { Terminal.fail("--to \(error)") }
        } else if let configured = database.url {
            url = configured
        } else {
            Terminal.fail("name the target: --to, or database.url (GATEHOUSE_DATABASE_URL)")
        }
        let lock: DatabaseLock
        do {
            lock = try DatabaseLock(databaseAt: path)
        } catch {
            Terminal.fail("\(error): stop the server first")
        }
        var logger = Logger(label: "gatehouse")
        logger.logLevel = .warning
        do {
            let source = try SQLiteStore(path: path)
            try await source.migrate()
            let target = try PostgresStore(url: url, tls: database.tls, caFile: database.caFile, logger: logger)
            defer { withExtendedLifetime(lock) {} }
            do {
                let counts = try await target.copy(from: source, keyFile: keyFile ?? path + ".key") { table, rows in
                    print("\(table): \(rows) rows")
                }
                try await target.close()
                let total = counts.reduce(0) { $0 + $1.rows }
                print("copied \(path) to \(url.redacted): \(total) rows in \(counts.count) tables, counts checked")
            } catch {
                try? await target.close()
                throw error
            }
        } catch {
            Terminal.fail("copy failed: \(error)")
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users.",
        subcommands: [CreateUser.self]
    )
}

struct CreateUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user (e.g. the first rootAdmin). The email counts as verified.",
        discussion:
            "The password comes from --password, else $GATEHOUSE_PASSWORD, else the first line of standard input."
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "Email address.") var email: String
    @Option(help: "Password (prefer $GATEHOUSE_PASSWORD or standard input: arguments show in ps).")
    var password: String?
    @Option(name: .customLong("first-name"), help: "First name.") var firstName: String
    @Option(name: .customLong("last-name"), help: "Last name.") var lastName: String
    @Option(help: "user, staff, admin or rootAdmin.") var role: String = "user"

    func run() async throws {
        guard let role = Role(rawValue: role) else {
            Terminal.fail("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let password = password ?? ProcessInfo.processInfo.environment["GATEHOUSE_PASSWORD"] ?? readLine() else {
            Terminal.fail("no password: use --password, $GATEHOUSE_PASSWORD or standard input")
        }
        _ = try await options.load()
        let host = await options.boot(logLevel: "warning")
        do {
            let user = try await host.core.accounts.create(
                NewUser(
                    email: email,
                    password: password,
                    firstName: firstName,
                    lastName: lastName,
                    role: role,
                    emailVerified: true
                )
            )
            print("created \(user.role.rawValue) \(user.email) with id \(user.id)")
        } catch let error as GatehouseError {
            let details = (error.details ?? []).map { "\n  \($0.field): \($0.message)" }.joined()
            Terminal.fail("\(error.message)\(details)")
        } catch {
            Terminal.fail("\(error)")
        }
    }
}

struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Mail.",
        subcommands: [SendTestMail.self, QueueTestMail.self]
    )
}

struct SendTestMail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send the test mail through the configured provider; print its message id."
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "Recipient address.") var to: String

    func run() async throws {
        let runtime = try await options.load()
        guard Validate.isEmail(to) else { Terminal.fail("--to: invalid email format") }
        // notice: the log provider prints the mail at that level.
        let host = await options.boot(logLevel: "notice")
        do {
            let messageId = try await host.core.mail.sendTest(to: to)
            print("sent through \(runtime.settings.mail.provider): messageId \(messageId)")
        } catch {
            Terminal.fail("the test mail was not sent: \(error)")
        }
    }
}

struct QueueTestMail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-test",
        abstract: "Queue the test mail in the outbox; the running server delivers it.",
        discussion: "Checks the outbox path end to end (and, with --count, measures it)."
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "Recipient address.") var to: String
    @Option(help: "How many copies to queue.") var count: Int = 1

    func run() async throws {
        _ = try await options.load()
        guard Validate.isEmail(to) else { Terminal.fail("--to: invalid email format") }
        guard (1...100_000).contains(count) else { Terminal.fail("--count must be between 1 and 100000") }
        let host = await options.boot(logLevel: "warning")
        do {
            let message = try host.core.mail.testMessage(to: to)
            try await host.core.mail.enqueue(Array(repeating: message, count: count))
            print("queued \(count) test mail(s) for \(to)")
        } catch {
            Terminal.fail("cannot queue: \(error)")
        }
    }
}
