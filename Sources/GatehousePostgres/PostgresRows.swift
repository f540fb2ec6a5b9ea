import Foundation
import GatehouseCore
import GatehouseStore
import PostgresNIO

// One mapping per table each way, as in the SQLite store's records: a row read into a domain
// value (`init(row:)`), a value written by one INSERT. A stored value this version cannot read
// is a `StoreError.unknownValue`, never a default.

extension PostgresRandomAccessRow {
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    /// The enum case stored in `column` of `table`.
    func known<T: RawRepresentable>(_ column: String, of table: String) throws -> T where T.RawValue == String {
        let raw: String = try get(column)
        guard let value = T(rawValue: raw) else {
            throw StoreError.unknownValue(column: "\(table).\(column)", value: raw)
        }
        return value
    }

    /// The JSON object stored as text in `column` of `table`.
    func jsonObject(_ column: String, of table: String) throws -> [String: JSONValue] {
        let text: String = try get(column)
        do { return try StoredJSON.object(text) } catch {
            throw StoreError.unknownValue(column: "\(table).\(column)", value: text)
        }
    }
}

extension User {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            email: try row.get("email"),
            passwordHash: try row.get("passwordHash"),
            firstName: try row.get("firstName"),
            lastName: try row.get("lastName"),
            displayName: try row.get("displayName"),
            role: try row.known("role", of: "users"),
            portalType: try row.known("portalType", of: "users"),
            emailVerified: try row.get("emailVerified"),
            twoFactorEnabled: try row.get("twoFactorEnabled"),
            suspended: try row.get("suspended"),
            settings: try row.jsonObject("settings", of: "users"),
            address: try row.get("address"),
            billingCity: try row.get("billingCity"),
            billingState: try row.get("billingState"),
            billingZip: try row.get("billingZip"),
            billingCountry: try row.get("billingCountry"),
            dateOfBirth: try row.get("dateOfBirth"),
            avatarUrl: try row.get("avatarUrl"),
            createdAt: try row.get("createdAt"),
            updatedAt: try row.get("updatedAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO users ("id", "email", "passwordHash", "firstName", "lastName", "displayName", "role",
            "portalType", "emailVerified", "twoFactorEnabled", "suspended", "settings", "address", "billingCity",
            "billingState", "billingZip", "billingCountry", "dateOfBirth", "avatarUrl", "createdAt", "updatedAt")
        VALUES (\(id), \(email), \(passwordHash), \(firstName), \(lastName), \(displayName), \(role.rawValue),
            \(portalType.rawValue), \(emailVerified), \(twoFactorEnabled), \(suspended), \(StoredJSON.text(settings)),
            \(address), \(billingCity), \(billingState), \(billingZip), \(billingCountry), \(dateOfBirth), \(avatarUrl),
            \(createdAt), \(updatedAt))
        """
    }

    /// Every column but the id, as this value has them.
    var update: PostgresQuery {
        """
        UPDATE users SET "email" = \(email), "passwordHash" = \(passwordHash), "firstName" = \(firstName),
            "lastName" = \(lastName), "displayName" = \(displayName), "role" = \(role.rawValue),
            "portalType" = \(portalType.rawValue), "emailVerified" = \(emailVerified),
            "twoFactorEnabled" = \(twoFactorEnabled), "suspended" = \(suspended),
            "settings" = \(StoredJSON.text(settings)), "address" = \(address), "billingCity" = \(billingCity),
            "billingState" = \(billingState), "billingZip" = \(billingZip), "billingCountry" = \(billingCountry),
            "dateOfBirth" = \(dateOfBirth), "avatarUrl" = \(avatarUrl), "createdAt" = \(createdAt),
            "updatedAt" = \(updatedAt)
        WHERE "id" = \(id) RETURNING "id"
        """
    }
}

extension Session {
    /// The columns of a sessions row as a join selects them, each named with `columnPrefix` before it.
    static func columns(_ table: String, columnPrefix prefix: String) -> String {
        [
            "id", "userId", "tokenHash", "createdAt", "lastSeenAt", "expiresAt", "ip", "userAgent", "impersonatedBy",
            "impersonatorSessionId",
        ]
        .map { #"\#(table)."\#($0)" AS "\#(prefix + $0)""# }.joined(separator: ", ")
    }

    /// A sessions row; in a join, its columns named with `columnPrefix` before them (see `columns`).
    init(row: PostgresRandomAccessRow, columnPrefix prefix: String = "") throws {
        self.init(
            id: try row.get(prefix + "id"),
            userId: try row.get(prefix + "userId"),
            tokenHash: try row.get(prefix + "tokenHash"),
            createdAt: try row.get(prefix + "createdAt"),
            lastSeenAt: try row.get(prefix + "lastSeenAt"),
            expiresAt: try row.get(prefix + "expiresAt"),
            ip: try row.get(prefix + "ip"),
            userAgent: try row.get(prefix + "userAgent"),
            impersonatedBy: try row.get(prefix + "impersonatedBy"),
            impersonatorSessionId: try row.get(prefix + "impersonatorSessionId")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO sessions ("id", "userId", "tokenHash", "createdAt", "lastSeenAt", "expiresAt", "ip", "userAgent",
            "impersonatedBy", "impersonatorSessionId")
        VALUES (\(id), \(userId), \(tokenHash), \(createdAt), \(lastSeenAt), \(expiresAt), \(ip), \(userAgent),
            \(impersonatedBy), \(impersonatorSessionId))
        """
    }
}

extension OutboxMail {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            to: try row.get("to"),
            subject: try row.get("subject"),
            text: try row.get("text"),
            html: try row.get("html"),
            status: try row.known("status", of: "mail_outbox"),
            attempts: try row.get("attempts"),
            nextAttemptAt: try row.get("nextAttemptAt"),
            lastError: try row.get("lastError"),
            messageId: try row.get("messageId"),
            createdAt: try row.get("createdAt"),
            sentAt: try row.get("sentAt"),
            template: try row.get("template")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO mail_outbox ("id", "to", "subject", "text", "html", "status", "attempts", "nextAttemptAt",
            "lastError", "messageId", "createdAt", "sentAt", "template")
        VALUES (\(id), \(to), \(subject), \(text), \(html), \(status.rawValue), \(attempts), \(nextAttemptAt),
            \(lastError), \(messageId), \(createdAt), \(sentAt), \(template))
        """
    }
}

extension EmailVerification {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            userId: try row.get("userId"),
            tokenHash: try row.get("tokenHash"),
            codeHash: try row.get("codeHash"),
            expiresAt: try row.get("expiresAt"),
            attempts: try row.get("attempts"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO email_verifications ("id", "userId", "tokenHash", "codeHash", "expiresAt", "attempts", "createdAt")
        VALUES (\(id), \(userId), \(tokenHash), \(codeHash), \(expiresAt), \(attempts), \(createdAt))
        """
    }
}

extension PasswordReset {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            userId: try row.get("userId"),
            tokenHash: try row.get("tokenHash"),
            expiresAt: try row.get("expiresAt"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO password_resets ("id", "userId", "tokenHash", "expiresAt", "createdAt")
        VALUES (\(id), \(userId), \(tokenHash), \(expiresAt), \(createdAt))
        """
    }
}

extension AuditEvent {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            try row.known("kind", of: "audit_events"),
            userId: try row.get("userId"),
            actorId: try row.get("actorId"),
            ip: try row.get("ip"),
            detail: try row.jsonObject("detail", of: "audit_events"),
            at: try row.get("createdAt")
        )
        id = try row.get("id")
    }

    var insert: PostgresQuery {
        """
        INSERT INTO audit_events ("id", "kind", "userId", "actorId", "ip", "detail", "createdAt")
        VALUES (\(id), \(kind.rawValue), \(userId), \(actorId), \(ip), \(StoredJSON.text(detail)), \(createdAt))
        """
    }
}

extension TwoFactorSecret {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            userId: try row.get("userId"),
            sealedSecret: try row.get("sealedSecret"),
            enabled: try row.get("enabled"),
            lastUsedStep: try row.get("lastUsedStep"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO two_factor ("userId", "sealedSecret", "enabled", "lastUsedStep", "createdAt")
        VALUES (\(userId), \(sealedSecret), \(enabled), \(lastUsedStep), \(createdAt))
        """
    }
}

extension LoginChallenge {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            userId: try row.get("userId"),
            tokenHash: try row.get("tokenHash"),
            expiresAt: try row.get("expiresAt"),
            attempts: try row.get("attempts"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO login_challenges ("id", "userId", "tokenHash", "expiresAt", "attempts", "createdAt")
        VALUES (\(id), \(userId), \(tokenHash), \(expiresAt), \(attempts), \(createdAt))
        """
    }
}

extension APIKey {
    /// The columns of an api_keys row as a join selects them, each named with `columnPrefix` before it.
    static func columns(_ table: String, columnPrefix prefix: String) -> String {
        ["id", "userId", "name", "prefix", "keyHash", "createdAt", "lastUsedAt", "expiresAt"]
            .map { #"\#(table)."\#($0)" AS "\#(prefix + $0)""# }.joined(separator: ", ")
    }

    /// An api_keys row; in a join, its columns named with `columnPrefix` before them (see `columns`).
    init(row: PostgresRandomAccessRow, columnPrefix prefix: String = "") throws {
        self.init(
            id: try row.get(prefix + "id"),
            userId: try row.get(prefix + "userId"),
            name: try row.get(prefix + "name"),
            prefix: try row.get(prefix + "prefix"),
            keyHash: try row.get(prefix + "keyHash"),
            createdAt: try row.get(prefix + "createdAt"),
            lastUsedAt: try row.get(prefix + "lastUsedAt"),
            expiresAt: try row.get(prefix + "expiresAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO api_keys ("id", "userId", "name", "prefix", "keyHash", "createdAt", "lastUsedAt", "expiresAt")
        VALUES (\(id), \(userId), \(name), \(prefix), \(keyHash), \(createdAt), \(lastUsedAt), \(expiresAt))
        """
    }
}

extension SSHKey {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            userId: try row.get("userId"),
            name: try row.get("name"),
            type: try row.get("type"),
            fingerprint: try row.get("fingerprint"),
            publicKey: try row.get("publicKey"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO ssh_keys ("id", "userId", "name", "type", "fingerprint", "publicKey", "createdAt")
        VALUES (\(id), \(userId), \(name), \(type), \(fingerprint), \(publicKey), \(createdAt))
        """
    }
}

extension Server {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            name: try row.get("name"),
            status: try row.get("status"),
            ownerId: try row.get("ownerId"),
            nodeDisplayName: try row.get("nodeDisplayName"),
            createdAt: try row.get("createdAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO servers ("id", "name", "status", "ownerId", "nodeDisplayName", "createdAt")
        VALUES (\(id), \(name), \(status), \(ownerId), \(nodeDisplayName), \(createdAt))
        """
    }
}

extension Passkey {
    init(row: PostgresRandomAccessRow) throws {
        let transports: String = try row.get("transports")
        let key: Data = try row.get("publicKey")
        self.init(
            id: try row.get("id"),
            userId: try row.get("userId"),
            name: try row.get("name"),
            credentialID: try row.get("credentialID"),
            publicKey: Array(key),
            counter: try row.get("counter"),
            deviceType: try row.get("deviceType"),
            backedUp: try row.get("backedUp"),
            transports: transports.split(separator: ",").map(String.init),
            aaguid: try row.get("aaguid"),
            createdAt: try row.get("createdAt")
        )
    }

    func insert() throws -> PostgresQuery {
        try """
        INSERT INTO passkeys ("id", "userId", "name", "credentialID", "publicKey", "counter", "deviceType",
            "backedUp", "transports", "aaguid", "createdAt")
        VALUES (\(id), \(userId), \(name), \(credentialID), \(Data(publicKey)), \(counter), \(deviceType),
            \(backedUp), \(transports.joined(separator: ",")), \(aaguid), \(createdAt))
        """
    }
}

extension PasskeyChallenge {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            tokenHash: try row.get("tokenHash"),
            ceremony: try row.known("ceremony", of: "passkey_challenges"),
            challenge: try row.get("challenge"),
            userId: try row.get("userId"),
            source: try row.get("source"),
            expiresAt: try row.get("expiresAt")
        )
    }

    var insert: PostgresQuery {
        """
        INSERT INTO passkey_challenges ("tokenHash", "ceremony", "challenge", "userId", "source", "expiresAt")
        VALUES (\(tokenHash), \(ceremony.rawValue), \(challenge), \(userId), \(source), \(expiresAt))
        """
    }
}
