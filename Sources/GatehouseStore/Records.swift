import Foundation
import GRDB
import GatehouseCore

// Each table has one record type: a domain value, its columns named once (`Columns`), and one
// mapping each way (`init(row:)` reads a row, `encode(to:)` writes one). A stored value this
// version cannot read (an enum case written by a newer version, JSON that does not parse) is a
// `StoreError.unknownValue`, never a default: a default would be written back over it.

extension Row {
    /// The enum case stored in `column` of `table`.
    func known<T: RawRepresentable>(_ column: Column, of table: String) throws -> T where T.RawValue == String {
        let raw: String = self[column]
        guard let value = T(rawValue: raw) else {
            throw StoreError.unknownValue(column: "\(table).\(column.name)", value: raw)
        }
        return value
    }

    /// The JSON object stored as text in `column` of `table`.
    func jsonObject(_ column: Column, of table: String) throws -> [String: JSONValue] {
        let text: String = self[column]
        do { return try StoredJSON.object(text) } catch {
            throw StoreError.unknownValue(column: "\(table).\(column.name)", value: text)
        }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The object as JSON text, its keys sorted.
    var storedText: String { StoredJSON.text(self) }
}

/// A JSON object as either store keeps it: text, its keys sorted.
package enum StoredJSON {
    package static func text(_ object: [String: JSONValue]) -> String {
        JSONValue.object(object.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).jsonString
    }

    package static func object(_ text: String) throws -> [String: JSONValue] {
        if text == "{}" { return [:] }
        return try JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
    }
}

/// A row of `users`.
struct UserRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "users"

    enum Columns {
        static let id = Column("id")
        static let email = Column("email")
        static let passwordHash = Column("passwordHash")
        static let firstName = Column("firstName")
        static let lastName = Column("lastName")
        static let displayName = Column("displayName")
        static let role = Column("role")
        static let portalType = Column("portalType")
        static let emailVerified = Column("emailVerified")
        static let twoFactorEnabled = Column("twoFactorEnabled")
        static let suspended = Column("suspended")
        static let settings = Column("settings")
        static let address = Column("address")
        static let billingCity = Column("billingCity")
        static let billingState = Column("billingState")
        static let billingZip = Column("billingZip")
        static let billingCountry = Column("billingCountry")
        static let dateOfBirth = Column("dateOfBirth")
        static let avatarUrl = Column("avatarUrl")
        static let createdAt = Column("createdAt")
        static let updatedAt = Column("updatedAt")
    }

    var user: User

    init(_ user: User) { self.user = user }

    init(row: Row) throws {
        typealias C = Columns
        user = User(
            id: row[C.id],
            email: row[C.email],
            passwordHash: row[C.passwordHash],
            firstName: row[C.firstName],
            lastName: row[C.lastName],
            displayName: row[C.displayName],
            role: try row.known(C.role, of: Self.databaseTableName),
            portalType: try row.known(C.portalType, of: Self.databaseTableName),
            emailVerified: row[C.emailVerified],
            twoFactorEnabled: row[C.twoFactorEnabled],
            suspended: row[C.suspended],
            settings: try row.jsonObject(C.settings, of: Self.databaseTableName),
            address: row[C.address],
            billingCity: row[C.billingCity],
            billingState: row[C.billingState],
            billingZip: row[C.billingZip],
            billingCountry: row[C.billingCountry],
            dateOfBirth: row[C.dateOfBirth],
            avatarUrl: row[C.avatarUrl],
            createdAt: row[C.createdAt],
            updatedAt: row[C.updatedAt]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = user.id
        container[C.email] = user.email
        container[C.passwordHash] = user.passwordHash
        container[C.firstName] = user.firstName
        container[C.lastName] = user.lastName
        container[C.displayName] = user.displayName
        container[C.role] = user.role.rawValue
        container[C.portalType] = user.portalType.rawValue
        container[C.emailVerified] = user.emailVerified
        container[C.twoFactorEnabled] = user.twoFactorEnabled
        container[C.suspended] = user.suspended
        container[C.settings] = user.settings.storedText
        container[C.address] = user.address
        container[C.billingCity] = user.billingCity
        container[C.billingState] = user.billingState
        container[C.billingZip] = user.billingZip
        container[C.billingCountry] = user.billingCountry
        container[C.dateOfBirth] = user.dateOfBirth
        container[C.avatarUrl] = user.avatarUrl
        container[C.createdAt] = user.createdAt
        container[C.updatedAt] = user.updatedAt
    }
}

/// A row of `sessions`.
struct SessionRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "sessions"

    enum Columns {
        static let id = Column("id")
        static let userId = Column("userId")
        static let tokenHash = Column("tokenHash")
        static let createdAt = Column("createdAt")
        static let lastSeenAt = Column("lastSeenAt")
        static let expiresAt = Column("expiresAt")
        static let ip = Column("ip")
        static let userAgent = Column("userAgent")
        static let impersonatedBy = Column("impersonatedBy")
        static let impersonatorSessionId = Column("impersonatorSessionId")
    }

    var session: Session

    init(_ session: Session) { self.session = session }

    init(row: Row) {
        typealias C = Columns
        session = Session(
            id: row[C.id],
            userId: row[C.userId],
            tokenHash: row[C.tokenHash],
            createdAt: row[C.createdAt],
            lastSeenAt: row[C.lastSeenAt],
            expiresAt: row[C.expiresAt],
            ip: row[C.ip],
            userAgent: row[C.userAgent],
            impersonatedBy: row[C.impersonatedBy],
            impersonatorSessionId: row[C.impersonatorSessionId]
        )
    }

    func encode(to container: inout PersistenceContainer) {
        typealias C = Columns
        container[C.id] = session.id
        container[C.userId] = session.userId
        container[C.tokenHash] = session.tokenHash
        container[C.createdAt] = session.createdAt
        container[C.lastSeenAt] = session.lastSeenAt
        container[C.expiresAt] = session.expiresAt
        container[C.ip] = session.ip
        container[C.userAgent] = session.userAgent
        container[C.impersonatedBy] = session.impersonatedBy
        container[C.impersonatorSessionId] = session.impersonatorSessionId
    }
}
