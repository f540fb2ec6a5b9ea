import Foundation
import GatehouseCore
import Logging
import PostgresNIO

/// The throw-away PostgreSQL cluster the test run started (`scripts/run-tests.sh` starts it
/// with `scripts/postgres-cluster.sh` and names it in `TEST_POSTGRES_URL`). Each test takes a
/// database of its own on it.
public enum TestPostgres {
    /// The cluster's URL; a clear failure when no cluster was started.
    public static func clusterURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TEST_POSTGRES_URL"], !url.isEmpty else {
            throw TestFailure(
                "TEST_POSTGRES_URL is not set: run the tests with scripts/run-tests.sh (or make test), which start "
                    + "a throw-away PostgreSQL cluster, or start one with scripts/postgres-cluster.sh start DIR"
            )
        }
        return url
    }

    /// A new, empty database on the cluster; its URL.
    public static func freshDatabase() async throws -> DatabaseURL {
        var url = try DatabaseURL(parsing: try clusterURL())
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await execute("CREATE DATABASE \(name)", on: url)
        url.database = name
        return url
    }

    /// `url` as `database.url` takes it (the test cluster's password is hex: nothing to escape).
    public static func text(_ url: DatabaseURL) -> String {
        "postgres://\(url.user):\(url.password ?? "")@\(url.host):\(url.port)/\(url.database)"
    }

    /// Runs `sql` (fixed text, no values) on the database `url` names, on a connection of its own.
    public static func execute(_ sql: String, on url: DatabaseURL) async throws {
        _ = try await rows(sql, on: url)
    }

    /// The rows of `sql`, each column read as text (cast in the statement: `x::text`).
    public static func rows(_ sql: String, on url: DatabaseURL) async throws -> [[String?]] {
        var logger = Logger(label: "test-postgres")
        logger.logLevel = .warning
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: url.host,
                port: url.port,
                username: url.user,
                password: url.password,
                database: url.database,
                tls: .disable
            ),
            id: 1,
            logger: logger
        )
        var rows: [[String?]] = []
        do {
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                rows.append(try row.map { try $0.decode(String?.self) })
            }
        } catch {
            try? await connection.close()
            throw TestFailure("\(sql): \(String(reflecting: error))")
        }
        try await connection.close()
        return rows
    }
}
