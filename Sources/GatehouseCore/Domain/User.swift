import Foundation

public enum Role: String, Sendable, Codable, CaseIterable {
    case user
    case staff
    case admin
    case rootAdmin

    /// admin or rootAdmin.
    public var isAdmin: Bool { self == .admin || self == .rootAdmin }
    /// May read any user (`GET /api/users/:id`, CONTRACT §4).
    public var canReadUsers: Bool { self != .user }

    /// The one hierarchy of writes to another account (user < staff < admin < rootAdmin): an
    /// admin manages users and staff, a rootAdmin everyone; users and staff manage nobody.
    public func canManage(_ target: Role) -> Bool {
        switch self {
        case .rootAdmin: return true
        case .admin: return !target.isAdmin
        case .user, .staff: return false
        }
    }
}

public enum PortalType: String, Sendable, Codable, CaseIterable {
    case free
    case paid
    case educational
    case enterprise
}

/// One account. Both API surfaces are views of this record.
public struct User: Sendable, Equatable {
    public var id: String
    public var email: String
    public var passwordHash: String
    public var firstName: String
    public var lastName: String
    public var displayName: String?
    public var role: Role
    public var portalType: PortalType
    public var emailVerified: Bool
    public var twoFactorEnabled: Bool
    public var suspended: Bool
    /// User-configurable panel settings (an object).
    public var settings: [String: JSONValue]
    public var address: String?
    public var billingCity: String?
    public var billingState: String?
    public var billingZip: String?
    /// ISO 3166-1 alpha-2.
    public var billingCountry: String?
    /// `YYYY-MM-DD`.
    public var dateOfBirth: String?
    public var avatarUrl: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String = Identifier.make(),
        email: String,
        passwordHash: String,
        firstName: String,
        lastName: String,
        displayName: String? = nil,
        role: Role = .user,
        portalType: PortalType = .free,
        emailVerified: Bool = false,
        twoFactorEnabled: Bool = false,
        suspended: Bool = false,
        settings: [String: JSONValue] = [:],
        address: String? = nil,
        billingCity: String? = nil,
        billingState: String? = nil,
        billingZip: String? = nil,
        billingCountry: String? = nil,
        dateOfBirth: String? = nil,
        avatarUrl: String? = nil,
        createdAt: Date = Date(),
        updatedAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.firstName = firstName
        self.lastName = lastName
        self.displayName = displayName
        self.role = role
        self.portalType = portalType
        self.emailVerified = emailVerified
        self.twoFactorEnabled = twoFactorEnabled
        self.suspended = suspended
        self.settings = settings
        self.address = address
        self.billingCity = billingCity
        self.billingState = billingState
        self.billingZip = billingZip
        self.billingCountry = billingCountry
        self.dateOfBirth = dateOfBirth
        self.avatarUrl = avatarUrl
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// A login session. Only the SHA-256 of its token is ever stored.
public struct Session: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var tokenHash: String
    public var createdAt: Date
    public var lastSeenAt: Date
    public var expiresAt: Date
    public var ip: String?
    public var userAgent: String?
    /// The admin acting as this session's user (an impersonation), if any. Such a session
    /// lasts a fixed hour: using it does not extend it.
    public var impersonatedBy: String?
    /// The admin's own session the impersonation began from: it holds only while that does.
    public var impersonatorSessionId: String?

    public init(
        id: String = Identifier.make(),
        userId: String,
        tokenHash: String,
        createdAt: Date,
        lastSeenAt: Date,
        expiresAt: Date,
        ip: String?,
        userAgent: String?,
        impersonatedBy: String? = nil,
        impersonatorSessionId: String? = nil
    ) {
        self.id = id
        self.userId = userId
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.ip = ip
        self.userAgent = userAgent
        self.impersonatedBy = impersonatedBy
        self.impersonatorSessionId = impersonatorSessionId
    }
}

/// Who is calling, and how they proved it.
public struct Principal: Sendable {
    public enum Credential: Sendable, Equatable {
        case session(id: String)
        case apiKey(id: String)
    }

    public var user: User
    public var credential: Credential
    /// The admin acting as `user`, when the session is an impersonation.
    public var impersonatedBy: String?

    public init(user: User, credential: Credential, impersonatedBy: String? = nil) {
        self.user = user
        self.credential = credential
        self.impersonatedBy = impersonatedBy
    }

    public static let impersonating = GatehouseError.forbidden("Not allowed while impersonating")

    /// Refuses, during an impersonation, what would outlast it or is the owner's alone: new API
    /// keys, SSH keys and passkeys, deleting the account.
    public func requireNotImpersonated() throws {
        if impersonatedBy != nil { throw Self.impersonating }
    }

    public var sessionId: String? {
        if case .session(let id) = credential { return id }
        return nil
    }
}
