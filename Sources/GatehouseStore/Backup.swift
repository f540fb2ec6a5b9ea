import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// The lock a serving process holds on its database for as long as it runs: an exclusive
/// `flock` on `<database>.lock`, released by the kernel when the process ends however it ends.
/// It keeps a second server off the same SQLite file and a restore from replacing the database
/// under a running one.
public final class DatabaseLock: Sendable {
    let descriptor: Int32

    public struct Held: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "another process is serving \(path) (it holds \(path).lock)" }
    }

    /// Takes the lock of the database at `path`; `Held` when another process has it.
    public init(databaseAt path: String) throws {
        let lockPath = path + ".lock"
        let directory = URL(fileURLWithPath: lockPath).deletingLastPathComponent().path
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: lockPath])
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw Held(path: path)
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

extension SQLiteStore {
    /// Writes a consistent copy of the database at `source` to `destination` (a new file, made
    /// 0600) with SQLite's online backup, in one step: the copy is the database as of one
    /// moment, while a server goes on reading and writing it (WAL lets its writers go on).
    /// Checks the copy (`PRAGMA integrity_check`) and returns how many users it holds.
    public static func backup(databaseAt source: String, to destination: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: source) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: source])
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: destination])
        }
        guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: destination]) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let live = try DatabaseQueue(path: source, configuration: configuration)
        let copy = try DatabaseQueue(path: destination)
        try live.backup(to: copy)
        try live.close()
        let users = try Self.check(copy)
        try copy.close()
        return users
    }

    /// Replaces the database at `destination` with the backup at `source` (checked first): the
    /// copy is written beside it and renamed over it, its old `-wal` and `-shm` removed. The
    /// caller holds the database's lock, so no server has it open.
    public static func restore(backupAt source: String, to destination: String, holding lock: DatabaseLock) throws
        -> Int
    {
        let backup = try DatabaseQueue(path: source, configuration: readOnly)
        let users = try Self.check(backup)
        try backup.close()
        let files = FileManager.default
        let directory = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        try files.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let staging = destination + ".restoring"
        try? files.removeItem(atPath: staging)
        try files.copyItem(atPath: source, toPath: staging)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: staging)
        for suffix in ["-wal", "-shm"] { try? files.removeItem(atPath: destination + suffix) }
        guard rename(staging, destination) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination])
        }
        withExtendedLifetime(lock) {}
        return users
    }

    static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }

    /// A copy that SQLite finds intact and that is a Gatehouse database; its number of users.
    static func check(_ database: DatabaseQueue) throws -> Int {
        try database.read { db in
            let result = try String.fetchOne(db, sql: "PRAGMA integrity_check")
            guard result == "ok" else { throw BackupRefused("the copy is damaged: \(result ?? "no answer")") }
            guard try db.tableExists("users"), try db.tableExists("grdb_migrations") else {
                throw BackupRefused("not a Gatehouse database")
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0
        }
    }
}

/// A backup or restore that cannot be made safely.
public struct BackupRefused: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
