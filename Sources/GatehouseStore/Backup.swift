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
        let descriptor = open(lockPath, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: lockPath])
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw Held(path: path)
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

extension SQLiteStore {
    /// Writes a consistent copy of the database at `source` to `destination` (a new file, made
    /// 0600), and the key file `key` to `destination.key`, with SQLite's online backup in one
    /// step: the copy is the database as of one moment, while a server goes on reading and
    /// writing it (WAL lets its writers go on). Both are written under temporary names, checked
    /// (`PRAGMA integrity_check`) and renamed into place, so a failed backup leaves nothing
    /// behind. Returns how many users the copy holds.
    public static func backup(databaseAt source: String, key: String, to destination: String) throws -> Int {
        let files = FileManager.default
        guard files.fileExists(atPath: source) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: source])
        }
        for path in [destination, destination + ".key"] where files.fileExists(atPath: path) {
            throw BackupRefused("\(path) exists already")
        }
        let staging = destination + ".partial"
        let keyStaging = destination + ".key.partial"
        defer {
            try? files.removeItem(atPath: staging)
            try? files.removeItem(atPath: keyStaging)
        }
        let users = try copyDatabase(from: source, to: staging)
        try files.copyItem(atPath: key, toPath: keyStaging)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyStaging)
        try install(keyStaging, at: destination + ".key")
        try install(staging, at: destination)
        return users
    }

    /// Replaces the database at `destination` and its key file `keyFile` with the backup at
    /// `source` and `source.key`. The backup is copied (SQLite's online backup) and checked
    /// beside its destination first; the database and key in place, with their `-wal` and
    /// `-shm`, are moved aside as `*.pre-restore` (nothing is deleted), then the copies are
    /// renamed into place, the key first. The caller holds the database's lock for all of it,
    /// so no server has it open.
    public static func restore(
        backupAt source: String,
        to destination: String,
        keyFile: String,
        holding lock: DatabaseLock
    ) throws -> Int {
        try withExtendedLifetime(lock) {
            let files = FileManager.default
            let directory = URL(fileURLWithPath: destination).deletingLastPathComponent().path
            try files.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            let staging = destination + ".restoring"
            let keyStaging = keyFile + ".restoring"
            defer {
                try? files.removeItem(atPath: staging)
                try? files.removeItem(atPath: keyStaging)
            }
            try? files.removeItem(atPath: staging)
            let users = try copyDatabase(from: source, to: staging)
            let key = try Data(contentsOf: URL(fileURLWithPath: source + ".key"))
            guard key.count >= 32 else { throw BackupRefused("\(source).key is not a key file") }
            try? files.removeItem(atPath: keyStaging)
            guard files.createFile(atPath: keyStaging, contents: key, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: keyStaging])
            }
            for path in [destination, destination + "-wal", destination + "-shm", keyFile]
            where files.fileExists(atPath: path) {
                try? files.removeItem(atPath: path + ".pre-restore")
                try files.moveItem(atPath: path, toPath: path + ".pre-restore")
            }
            try install(keyStaging, at: keyFile)
            try install(staging, at: destination)
            return users
        }
    }

    /// Copies the database at `source` to a new file `destination` (0600, owned like its
    /// folder) with SQLite's online backup, and checks the copy; its number of users.
    static func copyDatabase(from source: String, to destination: String) throws -> Int {
        guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: destination]) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let live = try DatabaseQueue(path: source, configuration: configuration)
        let copy = try DatabaseQueue(path: destination)
        try live.backup(to: copy)
        try live.close()
        let users = try check(copy)
        try copy.close()
        return users
    }

    /// Renames `staged` to `path` after syncing it, and gives it the owner of its folder (a
    /// restore run as root leaves files the service's user can open).
    static func install(_ staged: String, at path: String) throws {
        let descriptor = open(staged, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            Glibc.close(descriptor)
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if geteuid() == 0, let owner = try? FileManager.default.attributesOfItem(atPath: folder),
            let uid = owner[.ownerAccountID] as? NSNumber, let gid = owner[.groupOwnerAccountID] as? NSNumber
        {
            _ = chown(staged, uid_t(uid.uint32Value), gid_t(gid.uint32Value))
        }
        guard rename(staged, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
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
