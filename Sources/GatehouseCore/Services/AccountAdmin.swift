import Foundation

/// Which endpoint deletes an account; they word their refusals differently (CONTRACT §5).
public enum DeletionPath: Sendable {
    /// The user deletes themself.
    case own
    /// An admin deletes someone.
    case admin
}

/// What admins do to accounts beyond editing them: create and delete.
public struct AccountAdmin: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    public static let userNotFound = GatehouseError.notFound("User not found")

    /// Deletes an account and everything that is theirs, in one transaction with its audit
    /// event. Needs a session (not an API key). Refused while the account owns servers, for the
    /// last rootAdmin, for an admin deleting themself through the admin endpoint, and for an
    /// admin deleting an admin (only a rootAdmin may).
    public func delete(_ targetId: String, by actor: Principal, via path: DeletionPath) async throws {
        guard actor.sessionId != nil else { throw GatehouseError.requiresSession }
        if path == .own { try actor.requireNotImpersonated() }
        let isSelf = targetId == actor.user.id
        if path == .admin {
            if isSelf { throw GatehouseError.badRequest("Cannot delete your own account via admin endpoint") }
            guard let target = try await core.store.user(id: targetId) else { throw Self.userNotFound }
            if !actor.user.role.canManage(target.role) {
                throw GatehouseError.forbidden("Only a rootAdmin may delete an admin")
            }
        }
        do {
            try await core.store.deleteUser(
                id: targetId,
                audit: AuditEvent(.userDeleted, userId: targetId, actorId: isSelf ? nil : actor.user.id)
            )
        } catch let refusal as UserDeletionRefusal {
            switch refusal {
            case .notFound:
                throw Self.userNotFound
            case .ownsServers:
                throw GatehouseError.badRequest(
                    path == .own
                        ? "Cannot delete account with active servers" : "Cannot delete user with active servers"
                )
            case .lastRootAdmin:
                throw GatehouseError.badRequest("Cannot delete the last rootAdmin")
            }
        }
    }

    public static let cannotImpersonate = GatehouseError.forbidden("You cannot impersonate this account")
    public static let notImpersonating = GatehouseError.badRequest("You are not impersonating anyone")
    public static let adminSessionGone = GatehouseError.badRequest("Failed to find admin session")

    /// A session as `targetId` for the admin `actor` (`features.impersonation`), ending in an
    /// hour. Only from an admin's own session (not an API key, not another impersonation), and
    /// only of an account strictly below the admin: an admin acts as users and staff, a
    /// rootAdmin as admins too; nobody as a rootAdmin or as themself.
    public func impersonate(_ targetId: String, by actor: Principal, ip: String?, userAgent: String?) async throws
        -> (token: String, session: Session, user: User)
    {
        guard actor.user.role.isAdmin else { throw GatehouseError.adminRequired }
        guard let actorSessionId = actor.sessionId else { throw GatehouseError.requiresSession }
        guard let actorSession = try await core.store.session(id: actorSessionId, now: Date()),
            actorSession.impersonatedBy == nil
        else { throw Self.cannotImpersonate }
        guard let target = try await core.store.user(id: targetId) else { throw Self.userNotFound }
        guard Self.mayImpersonate(actor.user, target) else { throw Self.cannotImpersonate }
        let (token, session) = try await core.sessions.createImpersonation(
            of: target,
            by: actor.user.id,
            from: actorSessionId,
            ip: ip,
            userAgent: userAgent
        )
        return (token, session, target)
    }

    /// Whether `admin` may act as `target`: an admin in good standing, acting as an account
    /// strictly below them that is not a rootAdmin.
    public static func mayImpersonate(_ admin: User, _ target: User) -> Bool {
        admin.role.isAdmin && !admin.suspended && target.id != admin.id && target.role != .rootAdmin
            && admin.role.canManage(target.role)
    }

    /// Ends the caller's impersonation and gives back the admin's own session, named by its
    /// token (kept by the client since the impersonation began), which must be the
    /// impersonating admin's. The impersonation session ends only when that session is found.
    public func stopImpersonating(_ principal: Principal, adminToken: String?) async throws
        -> (token: String, session: Session, user: User)
    {
        guard let sessionId = principal.sessionId,
            let session = try await core.store.session(id: sessionId, now: Date()),
            let adminId = session.impersonatedBy
        else { throw Self.notImpersonating }
        guard let adminToken, let (adminSession, admin) = try await core.sessions.resolve(token: adminToken),
            adminSession.userId == adminId
        else { throw Self.adminSessionGone }
        _ = try await core.store.deleteSession(
            id: session.id,
            userId: principal.user.id,
            audit: [
                AuditEvent(
                    .impersonationStopped,
                    userId: principal.user.id,
                    actorId: adminId,
                    detail: ["sessionId": .string(session.id)]
                )
            ]
        )
        return (adminToken, adminSession, admin)
    }

    /// An account made by an admin (CONTRACT §5's rules: a name, a password of 8 or more, then
    /// `create`'s): verified from the start. `name` is the display name; first and last name are
    /// taken from it.
    public func createByAdmin(name: String, email: String, password: String, role: Role, by actor: Principal)
        async throws -> User
    {
        let (email, emailIssue) = Validate.email(email)
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        var issues: [FieldIssue] = []
        if let issue = Validate.name(name, field: "name") { issues.append(issue) }
        if let emailIssue { issues.append(emailIssue) }
        // This surface's own floor (CONTRACT §5), then every new password's bounds.
        if password.count < 8 {
            issues.append(FieldIssue(field: "password", message: "must be at least 8 characters", code: .tooShort))
        }
        if !password.isEmpty, let issue = Validate.newPassword(password) { issues.append(issue) }
        guard issues.isEmpty else { throw GatehouseError.validation(issues) }
        if role.isAdmin && actor.user.role != .rootAdmin {
            throw GatehouseError.forbidden("Only a rootAdmin may grant or revoke admin roles")
        }
        if role.isAdmin && actor.sessionId == nil { throw GatehouseError.requiresSession }
        let (firstName, lastName) = Validate.nameParts(name)
        do {
            return try await accounts.create(
                NewUser(
                    email: email,
                    password: password,
                    firstName: firstName,
                    lastName: lastName,
                    displayName: name,
                    role: role,
                    emailVerified: true
                ),
                actorId: actor.user.id
            )
        } catch let error as GatehouseError where error == Accounts.emailTaken {
            throw GatehouseError(.badRequest, "A user with this email already exists", code: .emailTaken)
        }
    }
}
