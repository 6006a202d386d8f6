//! The login user a source AMI's distribution is known to use (`ubuntu` for Ubuntu, `ec2-user`
//! for Amazon Linux and RHEL, `admin` for Debian …), from the image's name and owner, for the
//! hint an SSH authentication failure carries when `ssh_username` is something else.

/// Well-known publishers' account ids and the login user of their images.
const OWNERS: [(&str, &str, &str); 5] = [
    ("099720109477", "Ubuntu", "ubuntu"),
    ("137112412989", "Amazon Linux", "ec2-user"),
    ("136693071363", "Debian", "admin"),
    ("309956199498", "Red Hat Enterprise Linux", "ec2-user"),
    ("125523088429", "CentOS", "centos"),
];

/// Words in image names (lower-cased), most specific first, and the distribution's user.
const NAMES: [(&str, &str, &str); 13] = [
    ("ubuntu", "Ubuntu", "ubuntu"),
    ("amzn", "Amazon Linux", "ec2-user"),
    ("al2023", "Amazon Linux", "ec2-user"),
    ("amazon linux", "Amazon Linux", "ec2-user"),
    ("debian", "Debian", "admin"),
    ("centos", "CentOS", "centos"),
    ("rhel", "Red Hat Enterprise Linux", "ec2-user"),
    ("suse", "SUSE", "ec2-user"),
    ("fedora", "Fedora", "fedora"),
    ("rocky", "Rocky Linux", "rocky"),
    ("almalinux", "AlmaLinux", "ec2-user"),
    ("bitnami", "Bitnami", "bitnami"),
    ("freebsd", "FreeBSD", "ec2-user"),
];

/// (distribution, login user) for an image, when its name or owner says.
pub(crate) fn for_image(name: &str, owner: &str) -> Option<(&'static str, &'static str)> {
    let lower = name.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(word, ..)| lower.contains(word))
        .map(|(_, distro, user)| (*distro, *user))
        .or_else(|| {
            OWNERS
                .iter()
                .find(|(id, ..)| *id == owner)
                .map(|(_, distro, user)| (*distro, *user))
        })
}

/// The hint for an authentication failure as `user` on the image `id` (`name`, `owner`), when
/// the image's usual login user is someone else.
pub(crate) fn hint(id: &str, name: &str, owner: &str, user: &str) -> Option<String> {
    let (distro, usual) = for_image(name, owner)?;
    (usual != user).then(|| {
        format!(
            "the source AMI {id} ({name}) looks like {distro}, whose login user is usually \"{usual}\": try \"ssh_username\": \"{usual}\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_owners_give_the_usual_user() {
        let user = |name, owner| for_image(name, owner).map(|(_, u)| u);
        assert_eq!(
            user(
                "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20210223",
                ""
            ),
            Some("ubuntu")
        );
        assert_eq!(
            user("amzn2-ami-hvm-2.0.20210219.0-x86_64-gp2", ""),
            Some("ec2-user")
        );
        assert_eq!(user("debian-10-amd64-20210208-542", ""), Some("admin"));
        assert_eq!(
            user("CentOS Linux 7 x86_64 HVM EBS ENA 2002_01", ""),
            Some("centos")
        );
        assert_eq!(user("RHEL-8.3.0_HVM-20201031-x86_64", ""), Some("ec2-user"));
        assert_eq!(user("golden-image-42", "099720109477"), Some("ubuntu"));
        assert_eq!(user("golden-image-42", "123456789012"), None);
    }

    #[test]
    fn a_hint_only_when_the_user_differs() {
        let h = hint("ami-1", "ubuntu-focal-20.04", "", "ec2-user").unwrap();
        assert!(
            h.contains("Ubuntu") && h.contains("\"ssh_username\": \"ubuntu\""),
            "{h}"
        );
        assert_eq!(hint("ami-1", "ubuntu-focal-20.04", "", "ubuntu"), None);
        assert_eq!(hint("ami-1", "my-image", "", "ubuntu"), None);
    }
}
