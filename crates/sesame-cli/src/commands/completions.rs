//! `sesame completions SHELL`: clap's script, plus profile-name completion after
//! `-p`/`--profile`, which calls `sesame profiles --names` when the user presses Tab (the
//! names live in the configuration file, so a script generated once cannot hold them).

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::{exit, out};
use clap_complete::Shell;

pub fn run(args: &CompletionsArgs) -> i32 {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "sesame", &mut script);
    let script = String::from_utf8_lossy(&script);
    out::line(with_profile_names(args.shell, &script).trim_end());
    exit::OK
}

/// The generated script with profile names completing after `-p`/`--profile`.
pub fn with_profile_names(shell: Shell, script: &str) -> String {
    match shell {
        Shell::Bash => format!("{script}\n{BASH}"),
        Shell::Fish => format!("{script}\n{FISH}"),
        Shell::Zsh => {
            // clap writes `'-p+[…]:NAME:_default'` (and `--profile=`): the value's
            // completer becomes the profile lister.
            let mut out = String::new();
            for line in script.lines() {
                if (line.contains("'-p+[") || line.contains("'--profile=[")) && line.contains(":NAME:_default'") {
                    out.push_str(&line.replace(":NAME:_default'", ":NAME:_sesame_profiles'"));
                } else {
                    out.push_str(line);
                }
                out.push('\n');
            }
            // The function must exist before compinit calls `_sesame`; defined at the top.
            out.replacen("\n", &format!("\n{ZSH}\n"), 1)
        }
        _ => script.to_string(),
    }
}

const BASH: &str = r#"# Profile names after -p/--profile come from `sesame profiles --names`.
_sesame_with_profiles() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ "$prev" == "-p" || "$prev" == "--profile" ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$(sesame profiles --names 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _sesame "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _sesame_with_profiles -o nosort -o bashdefault -o default sesame
else
    complete -F _sesame_with_profiles -o bashdefault -o default sesame
fi"#;

const FISH: &str = r#"# Profile names after -p/--profile come from `sesame profiles --names`.
complete -c sesame -s p -l profile -x -a '(sesame profiles --names 2>/dev/null)'"#;

const ZSH: &str = r#"# Profile names after -p/--profile come from `sesame profiles --names`.
_sesame_profiles() {
    local -a names
    names=(${(f)"$(sesame profiles --names 2>/dev/null)"})
    compadd -a names
}"#;
