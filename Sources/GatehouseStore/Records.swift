import Foundation
import GRDB
import GatehouseCore

/// A row of `users`.
struct UserRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "users"

    var id: String
    var email: String
    var passwordHash: String
    var firstName: String
    var lastName: String
    var displayName: String?
    var role: String
    var portalType: String
    var emailVerified: Bool
    var twoFactorEnabled: Bool
    var suspended: Bool
    /// JSON object text.
    var settings: String
    var address: String?
    var billingCity: String?
    var billingState: String?
    var billingZip: String?
    var billingCountry: String?
    var dateOfBirth: String?
    var avatarUrl: String?
    var createdAt: Date
    var updatedAt: Date

    /// Reads the columns by name (faster than the Codable path on every authenticated request).
    init(row: Row) throws {
        id = row["id"]
        email = row["email"]
        passwordHash = row["passwordHash"]
        firstName = row["firstName"]
        lastName = row["lastName"]
        displayName = row["displayName"]
        role = row["role"]
        portalType = row["portalType"]
        emailVerified = row["emailVerified"]
        twoFactorEnabled = row["twoFactorEnabled"]
        suspended = row["suspended"]
        settings = row["settings"]
        address = row["address"]
        billingCity = row["billingCity"]
        billingState = row["billingState"]
        billingZip = row["billingZip"]
        billingCountry = row["billingCountry"]
        dateOfBirth = row["dateOfBirth"]
        avatarUrl = row["avatarUrl"]
        createdAt = row["createdAt"]
        updatedAt = row["updatedAt"]
    }

    init(_ user: User) {
        id = user.id
        email = user.email
        passwordHash = user.passwordHash
        firstName = user.firstName
        lastName = user.lastName
        displayName = user.displayName
        role = user.role.rawValue
        portalType = user.portalType.rawValue
        emailVerified = user.emailVerified
        twoFactorEnabled = user.twoFactorEnabled
        suspended = user.suspended
        settings = JSONValue.object(user.settings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).jsonString
        address = user.address
        billingCity = user.billingCity
        billingState = user.billingState
        billingZip = user.billingZip
        billingCountry = user.billingCountry
        dateOfBirth = user.dateOfBirth
        avatarUrl = user.avatarUrl
        createdAt = user.createdAt
        updatedAt = user.updatedAt
    }

    var user: User {
        get throws {
            try makeUser()
        }
    }

    private func makeUser() throws -> User {
        guard let role = Role(rawValue: role) else { throw StoreError.unknownValue(column: "users.role", value: role) }
        guard let portalType = PortalType(rawValue: portalType) else {
            throw StoreError.unknownValue(column: "users.portalType", value: portalType)
        }
        return User(
            id: id,
            email: email,
            passwordHash: passwordHash,
            firstName: firstName,
            lastName: lastName,
            displayName: displayName,
            role: role,
            portalType: portalType,
            emailVerified: emailVerified,
            twoFactorEnabled: twoFactorEnabled,
            suspended: suspended,
            settings: settings == "{}"
                ? [:] : (try? JSONDecoder().decode([String: JSONValue].self, from: Data(settings.utf8))) ?? [:],
            address: address,
            billingCity: billingCity,
            billingState: billingState,
            billingZip: billingZip,
            billingCountry: billingCountry,
            dateOfBirth: dateOfBirth,
            avatarUrl: avatarUrl,
            createdAt: createdAt,
            updatedAt: updatedAt
        )
    }
}

/// A row of `sessions`.
struct SessionRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "sessions"

    var id: String
    var userId: String
    var tokenHash: String
    var createdAt: Date
    var lastSeenAt: Date
    var expiresAt: Date
    var ip: String?
    var userAgent: String?

    init(row: Row) throws {
        id = row["id"]
        userId = row["userId"]
        tokenHash = row["tokenHash"]
        createdAt = row["createdAt"]
        lastSeenAt = row["lastSeenAt"]
        expiresAt = row["expiresAt"]
        ip = row["ip"]
        userAgent = row["userAgent"]
    }

    init(_ session: Session) {
        id = session.id
        userId = session.userId
        tokenHash = session.tokenHash
        createdAt = session.createdAt
        lastSeenAt = session.lastSeenAt
        expiresAt = session.expiresAt
        ip = session.ip
        userAgent = session.userAgent
    }

    var session: Session {
        Session(
            id: id,
            userId: userId,
            tokenHash: tokenHash,
            createdAt: createdAt,
            lastSeenAt: lastSeenAt,
            expiresAt: expiresAt,
            ip: ip,
            userAgent: userAgent
        )
    }
}
