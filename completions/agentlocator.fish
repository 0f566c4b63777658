# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_agentlocator_global_optspecs
    string join \n config= data-dir= log-format= v/verbose q/quiet h/help V/version
end

function __fish_agentlocator_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_agentlocator_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_agentlocator_using_subcommand
    set -l cmd (__fish_agentlocator_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c agentlocator -n "__fish_agentlocator_needs_command" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_needs_command" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_needs_command" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_needs_command" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "serve" -d 'Run the daemon: HTTP service, WhatsApp supervisor, admin socket'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "config" -d 'Inspect the configuration'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "tenant" -d 'Manage tenants (businesses)'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "check" -d 'Checks against a deployment'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "sessions" -d 'One row per tenant WhatsApp worker: state, phone, since, reconnects, last error, memory'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "events" -d 'Inspect, replay and retry the events delivered to tenants\' backends'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "db" -d 'The store: schema version'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "cluster" -d 'The nodes sharing the PostgreSQL store'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c agentlocator -n "__fish_agentlocator_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand serve" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate the effective configuration and print it, secrets redacted'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -l json -d 'Print JSON instead of TOML'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the effective configuration and print it, secrets redacted'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "add" -d 'Create a tenant; prints its API token and webhook signing secret once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "list" -d 'One line per tenant'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "show" -d 'Everything about one tenant (secrets redacted)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "set" -d 'Change a tenant\'s settings (an empty value clears an optional one)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "token" -d 'Issue a new API token; the old one stops working at once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "signing-secret" -d 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "pair" -d 'Pair the tenant\'s WhatsApp: QR codes in the terminal, or a pair code with --phone'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "logout" -d 'Unlink the tenant\'s WhatsApp device and wipe its session store'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "remove" -d 'Delete a tenant and all its data'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set token signing-secret pair logout remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l name -d 'Display name [default on add: the id]' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l webhook-url -d 'Where this tenant\'s events are POSTed' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l twilio-number -d 'A Twilio number (+E164) routed to this tenant; repeat for more. On `set`, replaces the tenant\'s list' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l twilio-auth-token -d 'This tenant\'s own Twilio auth token (else the global one is used)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l twilio-account-sid -d 'The Twilio account (AC...) of this tenant\'s own auth token: recordings are fetched only for webhooks of that account. Empty on `set` clears it' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l voice-twiml -d 'TwiML answered to this tenant\'s voice calls, or @FILE to read it from a file; `{{recording_status_callback}}` and `{{tenant}}` are filled in. Empty on `set` restores the default (greeting + record)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l name -d 'Display name [default on add: the id]' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l webhook-url -d 'Where this tenant\'s events are POSTed' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l twilio-number -d 'A Twilio number (+E164) routed to this tenant; repeat for more. On `set`, replaces the tenant\'s list' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l twilio-auth-token -d 'This tenant\'s own Twilio auth token (else the global one is used)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l twilio-account-sid -d 'The Twilio account (AC...) of this tenant\'s own auth token: recordings are fetched only for webhooks of that account. Empty on `set` clears it' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l voice-twiml -d 'TwiML answered to this tenant\'s voice calls, or @FILE to read it from a file; `{{recording_status_callback}}` and `{{tenant}}` are filled in. Empty on `set` restores the default (greeting + record)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -l rotate -d 'Required: rotation is the only token operation'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from token" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l grace -d 'How long the old secret keeps signing too (e.g. 90m, 24h; 0s: it stops at once)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l rotate -d 'Required: the current secret is never shown again, only replaced'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from signing-secret" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -l phone -d 'Pair by phone-number code for this number instead of by QR' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -l timeout -d 'Give up after this many seconds' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from pair" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from logout" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l yes -d 'Confirm the deletion'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "add" -d 'Create a tenant; prints its API token and webhook signing secret once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "list" -d 'One line per tenant'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "show" -d 'Everything about one tenant (secrets redacted)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change a tenant\'s settings (an empty value clears an optional one)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "token" -d 'Issue a new API token; the old one stops working at once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "signing-secret" -d 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "pair" -d 'Pair the tenant\'s WhatsApp: QR codes in the terminal, or a pair code with --phone'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "logout" -d 'Unlink the tenant\'s WhatsApp device and wipe its session store'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Delete a tenant and all its data'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -f -a "go" -d 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and not __fish_seen_subcommand_from go help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l url -d 'Base URL of the deployment [default: the configured http.listen]' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l format -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l junit -d 'Also write a JUnit XML report here' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l timeout -d 'Seconds each check may take' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from go" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from help" -f -a "go" -d 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand check; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -l watch -d 'Refresh every 2 seconds until interrupted (with --json: one document per line)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand sessions" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -f -a "list" -d 'The most recent events, oldest first'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -f -a "show" -d 'One event, its data and every delivery attempt'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -f -a "replay" -d 'Queue events again for delivery, keeping their ids (any state but held)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -f -a "retry-dead" -d 'Queue every dead event again (of one tenant, or of all)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and not __fish_seen_subcommand_from list show replay retry-dead help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l tenant -d 'Only this tenant\'s events' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l status -d 'Only events in this state' -r -f -a "held\t''
pending\t''
delivered\t''
dead\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l limit -d 'How many events at most (the most recent ones)' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from replay" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -l tenant -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from retry-dead" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from help" -f -a "list" -d 'The most recent events, oldest first'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from help" -f -a "show" -d 'One event, its data and every delivery attempt'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from help" -f -a "replay" -d 'Queue events again for delivery, keeping their ids (any state but held)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from help" -f -a "retry-dead" -d 'Queue every dead event again (of one tenant, or of all)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand events; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -f -a "status" -d 'Which store the configuration names and its schema version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -f -a "copy" -d 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and not __fish_seen_subcommand_from status copy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -l to -d 'The target database (postgres://...); it must be empty' -r
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from copy" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "status" -d 'Which store the configuration names and its schema version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "copy" -d 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -f -a "status" -d 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and not __fish_seen_subcommand_from status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -l json
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from help" -f -a "status" -d 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand cluster; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -l config -d 'Configuration file [default: config/agentlocator.toml when it exists]' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -l data-dir -d 'Where the database, secrets and tenant data live' -r -F
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -l log-format -d 'Log format (logs go to stderr)' -r -f -a "text\t''
json\t''"
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -s v -l verbose -d 'More logging (-v debug, -vv trace); RUST_LOG overrides'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -s q -l quiet -d 'Less logging (-q warnings, -qq errors only)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -s h -l help -d 'Print help'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand completions" -s V -l version -d 'Print version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "serve" -d 'Run the daemon: HTTP service, WhatsApp supervisor, admin socket'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "config" -d 'Inspect the configuration'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "tenant" -d 'Manage tenants (businesses)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "check" -d 'Checks against a deployment'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "sessions" -d 'One row per tenant WhatsApp worker: state, phone, since, reconnects, last error, memory'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "events" -d 'Inspect, replay and retry the events delivered to tenants\' backends'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "db" -d 'The store: schema version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "cluster" -d 'The nodes sharing the PostgreSQL store'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and not __fish_seen_subcommand_from serve config tenant check sessions events db cluster completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the effective configuration and print it, secrets redacted'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "add" -d 'Create a tenant; prints its API token and webhook signing secret once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "list" -d 'One line per tenant'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "show" -d 'Everything about one tenant (secrets redacted)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "set" -d 'Change a tenant\'s settings (an empty value clears an optional one)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "token" -d 'Issue a new API token; the old one stops working at once'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "signing-secret" -d 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "pair" -d 'Pair the tenant\'s WhatsApp: QR codes in the terminal, or a pair code with --phone'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "logout" -d 'Unlink the tenant\'s WhatsApp device and wipe its session store'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "remove" -d 'Delete a tenant and all its data'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from check" -f -a "go" -d 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from events" -f -a "list" -d 'The most recent events, oldest first'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from events" -f -a "show" -d 'One event, its data and every delivery attempt'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from events" -f -a "replay" -d 'Queue events again for delivery, keeping their ids (any state but held)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from events" -f -a "retry-dead" -d 'Queue every dead event again (of one tenant, or of all)'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "status" -d 'Which store the configuration names and its schema version'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "copy" -d 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
complete -c agentlocator -n "__fish_agentlocator_using_subcommand help; and __fish_seen_subcommand_from cluster" -f -a "status" -d 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
