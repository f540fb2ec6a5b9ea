import Foundation

/// Session lifetime rules (CONTRACT §3).
public struct SessionSettings: Sendable, Equatable {
    /// Sliding lifetime: a session expires this long after it was last used.
    public var lifetime: TimeInterval
    /// Sessions a user may hold; the oldest go first.
    public var maxPerUser: Int
    /// Last-use writes are coalesced: a session is touched at most this often.
    public var touchInterval: TimeInterval

    public static let `default` = SessionSettings(lifetime: 7 * 24 * 3600, maxPerUser: 20, touchInterval: 60)

    public init(lifetime: TimeInterval, maxPerUser: Int, touchInterval: TimeInterval = 60) {
        self.lifetime = lifetime
        self.maxPerUser = maxPerUser
        self.touchInterval = touchInterval
    }
}

/// Creates, resolves and ends login sessions.
public struct Sessions: Sendable {
    let store: any SessionStore & UserStore
    let settings: @Sendable () -> SessionSettings
    let now: @Sendable () -> Date

    public init(
        store: any SessionStore & UserStore,
        settings: @escaping @Sendable () -> SessionSettings,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.settings = settings
        self.now = now
    }

    /// Starts a session for `user`; returns the token (shown to the client once) and the session.
    public func create(
        for user: User,
        ip: String?,
        userAgent: String?,
        audit: [AuditEvent] = [],
        mails: [OutboxMail] = []
    ) async throws -> (token: String, session: Session) {
        let session = newSession(for: user, ip: ip, userAgent: userAgent)
        try await store.insertSession(session.session, keepAtMost: settings().maxPerUser, audit: audit, mails: mails)
        return session
    }

    /// A session for `user` starting now, not yet stored; the token is shown to the client once.
    public func newSession(for user: User, ip: String?, userAgent: String?) -> (token: String, session: Session) {
        let settings = self.settings()
        let now = self.now()
        let token = Secrets.sessionToken()
        let session = Session(
            userId: user.id,
            tokenHash: Secrets.sha256Hex(token),
            createdAt: now,
            lastSeenAt: now,
            expiresAt: now.addingTimeInterval(settings.lifetime),
            ip: ip,
            userAgent: userAgent.map { String($0.prefix(512)) }
        )
        return (token, session)
    }

    /// The live session for a token and its user, sliding its expiry; nil when unknown or expired.
    public func resolve(token: String) async throws -> (Session, User)? {
        guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
        let now = self.now()
        guard var (session, user) = try await store.session(tokenHash: Secrets.sha256Hex(token), now: now) else {
            return nil
        }
        if session.impersonatedBy != nil, try await !impersonationHolds(session, of: user, now: now) { return nil }
        let settings = self.settings()
        if now.timeIntervalSince(session.lastSeenAt) >= settings.touchInterval {
            session.lastSeenAt = now
            // An impersonation ends at its fixed hour, used or not.
            if session.impersonatedBy == nil { session.expiresAt = now.addingTimeInterval(settings.lifetime) }
            try await store.touchSession(
                id: session.id,
                userId: session.userId,
                lastSeenAt: session.lastSeenAt,
                expiresAt: session.expiresAt
            )
        }
        return (session, user)
    }

    public func list(userId: String) async throws -> [Session] {
        try await store.sessions(userId: userId, now: now())
    }

    /// Replaces the session `sessionId` of `user` with a new one (a new token), which keeps the
    /// old one's start, and an impersonation's admin and end: a rotation does not make a
    /// session fresh, nor an impersonation the user's own session.
    public func replace(_ sessionId: String, of user: User, ip: String?, userAgent: String?) async throws
        -> (token: String, session: Session)
    {
        guard let old = try await store.sessions(userId: user.id, now: now()).first(where: { $0.id == sessionId })
        else {
            throw GatehouseError.unauthorized
        }
        try await revoke(sessionId: sessionId, userId: user.id)
        var (token, session) = newSession(for: user, ip: ip, userAgent: userAgent)
        session.createdAt = old.createdAt
        if old.impersonatedBy != nil {
            session.impersonatedBy = old.impersonatedBy
            session.impersonatorSessionId = old.impersonatorSessionId
            session.expiresAt = old.expiresAt
        }
        try await store.insertSession(session, keepAtMost: settings().maxPerUser, audit: [], mails: [])
        return (token, session)
    }

    /// How long an admin's impersonation of an account lasts.
    public static let impersonationLifetime: TimeInterval = 3600

    /// A session of `target` for the admin `actorId`, begun from the admin's session
    /// `actorSessionId`, ending in an hour however it is used, recorded in the audit trail. It
    /// does not count against the target's own sessions (none of theirs is pruned for it).
    func createImpersonation(
        of target: User,
        by actorId: String,
        from actorSessionId: String,
        ip: String?,
        userAgent: String?
    ) async throws -> (token: String, session: Session) {
        var (token, session) = newSession(for: target, ip: ip, userAgent: userAgent)
        session.impersonatedBy = actorId
        session.impersonatorSessionId = actorSessionId
        session.expiresAt = session.createdAt.addingTimeInterval(Self.impersonationLifetime)
        try await store.insertSession(
            session,
            keepAtMost: .max,
            audit: [
                AuditEvent(
                    .impersonationStarted,
                    userId: target.id,
                    actorId: actorId,
                    detail: ["sessionId": .string(session.id)]
                )
            ],
            mails: []
        )
        return (token, session)
    }

    /// Whether an impersonation still holds, checked on every use (from the database, not a
    /// cache): the admin's own session lives, and the admin may still act as this user (an
    /// admin banned, demoted, deleted or signed out, or a user promoted, ends it at once).
    func impersonationHolds(_ session: Session, of user: User, now: Date) async throws -> Bool {
        guard let adminId = session.impersonatedBy, let adminSessionId = session.impersonatorSessionId,
            let adminSession = try await store.session(id: adminSessionId, now: now), adminSession.userId == adminId,
            adminSession.impersonatedBy == nil, let admin = try await store.user(id: adminId)
        else { return false }
        return AccountAdmin.mayImpersonate(admin, user)
    }

    /// The live session with this id (or this token), whoever's it is.
    public func find(idOrToken: String) async throws -> Session? {
        guard !idOrToken.isEmpty, idOrToken.utf8.count <= 256 else { return nil }
        if let session = try await store.session(id: idOrToken, now: now()) { return session }
        return try await store.session(tokenHash: Secrets.sha256Hex(idOrToken), now: now())?.0
    }

    /// Ends one of the user's sessions; false when it was not theirs or not there.
    @discardableResult public func revoke(sessionId: String, userId: String) async throws -> Bool {
        try await store.deleteSession(
            id: sessionId,
            userId: userId,
            audit: [AuditEvent(.sessionRevoked, userId: userId, detail: ["sessionId": .string(sessionId)])]
        )
    }

    /// Ends every session of the user, or every one but `keeping`.
    @discardableResult public func revokeAll(userId: String, keeping: String? = nil) async throws -> Int {
        try await store.deleteSessions(
            userId: userId,
            keeping: keeping,
            audit: [AuditEvent(.sessionsRevoked, userId: userId, detail: ["kept": .string(keeping)])]
        )
    }

    @discardableResult public func purgeExpired() async throws -> Int {
        try await store.deleteExpiredSessions(now: now())
    }
}
