import ArgumentParser
import Foundation
import IrisCommands
import IrisCore
import IrisServer
import IrisServices

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users.",
        subcommands: [List.self, Create.self, Disable.self, Enable.self, ResetPassword.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await IrisAccountCommands.listUsers(try common.settings())
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user. Prints a random password unless --password-stdin gives one.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Username: letters, digits, '.', '_', '-'.") var username: String
        @Flag(help: "Make the user an instance administrator.") var admin = false
        @Flag(help: "Read the password from standard input instead of generating one.") var passwordStdin = false

        func run() async throws {
            try await IrisAccountCommands.createUser(
                try common.settings(), username: username, admin: admin, password: passwordStdin ? readLine() : nil)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: their sessions end and their tokens stop working at once.")
        @OptionGroup var common: CommonOptions
        @Argument var username: String

        func run() async throws {
            try await IrisAccountCommands.setDisabled(try common.settings(), username: username, true)
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again.")
        @OptionGroup var common: CommonOptions
        @Argument var username: String

        func run() async throws {
            try await IrisAccountCommands.setDisabled(try common.settings(), username: username, false)
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a new password (random and printed, or from --password-stdin); ends the user's sessions.")
        @OptionGroup var common: CommonOptions
        @Argument var username: String
        @Flag(help: "Read the password from standard input instead of generating one.") var passwordStdin = false

        func run() async throws {
            try await IrisAccountCommands.resetPassword(
                try common.settings(), username: username, password: passwordStdin ? readLine() : nil)
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for a user and print it once.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The user the token acts as.") var user: String
        @Option(help: "A name to recognise the token by.") var name: String
        @Option(help: "Comma-separated scopes: read, write, admin.") var scopes = "read"
        @Option(help: "Limit the token to one project (its id).") var project: Int64?
        @Option(help: "Days until the token expires (default: never).") var expiresDays: Int?

        func run() async throws {
            let parsed = try scopes.split(separator: ",").map { raw -> TokenScope in
                guard let scope = TokenScope(rawValue: raw.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("unknown scope \(raw); use read, write or admin")
                }
                return scope
            }
            try await IrisAccountCommands.createToken(
                try common.settings(), username: user, name: name, scopes: parsed, projectID: project,
                expiresDays: expiresDays)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var common: CommonOptions
        @Option(help: "Only this user's tokens.") var user: String?

        func run() async throws {
            try await IrisAccountCommands.listTokens(try common.settings(), username: user)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id; it stops working at once.")
        @OptionGroup var common: CommonOptions
        @Argument var id: Int64

        func run() async throws {
            try await IrisAccountCommands.revokeToken(try common.settings(), id: id)
        }
    }
}
